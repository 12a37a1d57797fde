/* c5metrics 1.2 -> 1.3: safe against every role (docs/SECURITY.md) */
\echo Use "ALTER EXTENSION c5metrics UPDATE TO '1.3'" to load this file. \quit
