/* c5metrics 1.3 -> 1.4: survive dump/restore, renames, schema changes and ORM types (issue 15) */
\echo Use "ALTER EXTENSION c5metrics UPDATE TO '1.4'" to load this file. \quit

-- ---------------------------------------------------------------------
-- References by name (lead): see docs/DESIGN.md, "How attachments are
-- kept".
-- ---------------------------------------------------------------------


-- ---------------------------------------------------------------------
-- Column types (h1): every type a user can reasonably map works for
-- every mapped column, or is refused when attaching, with the reason
-- (issue 15, "a guard never stands aside silently"; sql/types.sql tries
-- them all).
-- - _check_column: a column read as text (status, movement type, refund
--   type, email) is text, varchar, char, name, a type stored as text
--   (citext: implicitly binary-coercible to text), an enum, or a domain
--   over one of them: what the library reads as text (c5m_resolve_col).
--   1.3 took any type of the string category, citext included, which the
--   library then could not read (every status "other", no paid
--   transition, no refund type, no refund-in), and refused a domain over
--   an enum.  A number (amount, total, quantity) must be readable as
--   numeric: oid and the reg* types, which the guard and the refund-in
--   check could not read, are refused.
-- - _check_value: a configured value must be one the column can hold: a
--   value longer than a varchar(n) or char(n) (also one set by a domain),
--   a char(n) value with trailing blanks, or not a label of the enum (also
--   under a domain) would never match any row.
-- - _comparable: the sale-id types of a refunds table and of its sales
--   table that the over-refund guard can compare, decided by the library
--   with the equality the guard uses (c5m_guard_comparable); the
--   attach functions call it.
-- ---------------------------------------------------------------------
CREATE OR REPLACE FUNCTION _check_column(tbl regclass, col name, param text, kinds text)
RETURNS regtype
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t regtype;
  base regtype;
  b pg_type;
BEGIN
  IF col IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', param USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT a.atttypid INTO t
    FROM pg_attribute a
   WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
  IF t IS NULL THEN
    RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl
      USING ERRCODE = 'undefined_column',
            HINT = format('Pass the name of the table''s column as %s => ''...''.', param);
  END IF;
  base := @extschema@._base_type(t);
  SELECT * INTO b FROM pg_type WHERE oid = base;
  IF kinds = 'text' AND NOT (b.typcategory = 'S' OR b.typtype = 'e') THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a text or enum column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch',
            HINT = format('Use a text, varchar, char, citext or enum column for %s.', param);
  ELSIF kinds = 'text' AND NOT (
          b.typtype = 'e'
          OR base IN ('text', 'character varying', 'character', 'name')
          OR (b.typlen = -1
              AND EXISTS (SELECT 1 FROM pg_cast
                           WHERE castsource = base AND casttarget = 'text'::regtype
                             AND castmethod = 'b' AND castcontext = 'i'))) THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a text or enum column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch',
            DETAIL = format('Values of type %s are not stored as text, so c5metrics cannot read them.', base),
            HINT = format('Use a text, varchar, char, citext or enum column for %s.', param);
  ELSIF kinds = 'number' AND b.typcategory <> 'N' THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a numeric column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch',
            HINT = format('Use a numeric, integer or floating-point column for %s.', param);
  ELSIF kinds = 'number' AND base <> 'numeric'::regtype
        AND NOT EXISTS (SELECT 1 FROM pg_cast
                         WHERE castsource = base AND casttarget = 'numeric'::regtype) THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a numeric column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch',
            DETAIL = format('Values of type %s cannot be read as numeric.', base),
            HINT = format('Use a numeric, integer or floating-point column for %s.', param);
  ELSIF kinds = 'text_or_inet' AND NOT (b.typcategory IN ('S', 'I') OR b.typtype = 'e') THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a text or inet column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch',
            HINT = format('Use an inet, text or varchar column for %s.', param);
  END IF;
  RETURN t;
END
$$;

CREATE OR REPLACE FUNCTION _check_value(tbl regclass, col name, val text, param text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t regtype;
  typmod integer;
  base regtype;
BEGIN
  IF val IS NULL OR val = '' THEN
    RAISE EXCEPTION '% must not be empty', param USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT a.atttypid, a.atttypmod INTO t, typmod FROM pg_attribute a
   WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
  IF t IS NULL THEN
    RETURN;				-- for _check_column to report
  END IF;
  base := @extschema@._base_type(t);
  IF (SELECT typtype FROM pg_type WHERE oid = base) = 'e'
     AND NOT EXISTS (SELECT 1 FROM pg_enum WHERE enumtypid = base AND enumlabel = val) THEN
    RAISE EXCEPTION 'value "%" is not a label of enum type % (column "%" of table %)', val, base, col, tbl
      USING ERRCODE = 'invalid_parameter_value',
            HINT = format('Pass one of the enum''s labels as %s.', param);
  END IF;
  -- The length limit of a varchar(n) or char(n), perhaps set by a domain:
  -- the column's own, else the nearest domain's.  Read from the catalogs
  -- only (tracked's problem column runs this for any reader).
  IF typmod < 0 THEN
    WITH RECURSIVE d(base, typmod, depth) AS (
      SELECT typbasetype, typtypmod, 0 FROM pg_type WHERE oid = t
      UNION ALL
      SELECT ty.typbasetype, ty.typtypmod, d.depth + 1 FROM pg_type ty JOIN d ON ty.oid = d.base
    )
    SELECT d.typmod INTO typmod FROM d WHERE d.typmod >= 0 ORDER BY depth LIMIT 1;
  END IF;
  IF base IN ('character varying', 'character') AND typmod >= 4 AND char_length(val) > typmod - 4 THEN
    RAISE EXCEPTION 'column "%" of table % cannot hold value "%" of %', col, tbl, val, param
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Its values are at most %s characters long, so no row could match it.', typmod - 4),
            HINT = format('Pass %s as the column stores it, or widen the column.', param);
  ELSIF base = 'character'::regtype AND val <> rtrim(val, ' ') THEN
    RAISE EXCEPTION 'column "%" of table % cannot hold value "%" of %', col, tbl, val, param
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'c5metrics reads char(n) values without their trailing blanks, so no row could match it.',
            HINT = format('Pass %s without trailing blanks.', param);
  ELSIF base = 'name'::regtype AND octet_length(val) > 63 THEN
    RAISE EXCEPTION 'column "%" of table % cannot hold value "%" of %', col, tbl, val, param
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'Its values are at most 63 bytes long, so no row could match it.',
            HINT = format('Pass %s as the column stores it, or use a text column.', param);
  END IF;
END
$$;

CREATE FUNCTION _comparable(a regtype, b regtype) RETURNS boolean
AS 'MODULE_PATHNAME', 'c5metrics_comparable'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
