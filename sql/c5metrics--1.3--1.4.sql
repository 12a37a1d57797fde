/* c5metrics 1.3 -> 1.4: survive dump/restore, renames, schema changes and ORM types (issue 15) */
\echo Use "ALTER EXTENSION c5metrics UPDATE TO '1.4'" to load this file. \quit

-- ---------------------------------------------------------------------
-- References by name (lead): see docs/DESIGN.md, "How attachments are
-- kept".
-- ---------------------------------------------------------------------

