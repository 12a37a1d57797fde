-- Flow 3: public leads and the throttle.
SELECT c5metrics.reset();
INSERT INTO shop.public_leads (email, source_ip) VALUES ('a@example.com', '198.51.100.1');
\set VERBOSITY terse
INSERT INTO shop.public_leads (email, source_ip) VALUES ('not-an-email', '198.51.100.1');
\set VERBOSITY default
SELECT * FROM nz;

-- Throttle on: the 3rd lead from one address within a minute is blocked
-- with SQLSTATE 53M01 (the application's HTTP 429).
SELECT c5metrics.reset();
SET c5metrics.lead_throttle = on;
SET c5metrics.lead_ip_per_minute = 2;
SET c5metrics.lead_email_per_minute = 100;
INSERT INTO shop.public_leads (email, source_ip) VALUES ('b1@example.com', '198.51.100.7');
INSERT INTO shop.public_leads (email, source_ip) VALUES ('b2@example.com', '198.51.100.7');
INSERT INTO shop.public_leads (email, source_ip) VALUES ('b3@example.com', '198.51.100.7');
\echo :LAST_ERROR_SQLSTATE
-- another address is not affected
INSERT INTO shop.public_leads (email, source_ip) VALUES ('b4@example.com', '198.51.100.8');
SELECT * FROM nz;

-- Per email, case-insensitively.
SELECT c5metrics.reset();
SET c5metrics.lead_ip_per_minute = 100;
SET c5metrics.lead_email_per_minute = 1;
INSERT INTO shop.public_leads (email, source_ip) VALUES ('Carol@example.com', '198.51.100.20');
INSERT INTO shop.public_leads (email, source_ip) VALUES ('carol@EXAMPLE.com', '198.51.100.21');
SELECT * FROM nz;

-- Global.
SELECT c5metrics.reset();
SET c5metrics.lead_email_per_minute = 100;
SET c5metrics.lead_global_per_minute = 1;
INSERT INTO shop.public_leads (email, source_ip) VALUES ('d1@example.com', '198.51.100.30');
INSERT INTO shop.public_leads (email, source_ip) VALUES ('d2@example.com', '198.51.100.31');
SELECT * FROM nz;

-- A throttled lead trapped by the application's savepoint: still throttled once.
SELECT c5metrics.reset();
BEGIN;
SAVEPOINT lead;
INSERT INTO shop.public_leads (email, source_ip) VALUES ('d3@example.com', '198.51.100.32');
ROLLBACK TO SAVEPOINT lead;
COMMIT;
SELECT * FROM nz;
RESET c5metrics.lead_throttle;
RESET c5metrics.lead_ip_per_minute;
RESET c5metrics.lead_email_per_minute;
RESET c5metrics.lead_global_per_minute;

-- Off (the default): nothing is throttled.
SELECT c5metrics.reset();
INSERT INTO shop.public_leads (email, source_ip)
SELECT 'e' || i || '@example.com', '198.51.100.40' FROM generate_series(1, 20) i;
SELECT * FROM nz;

-- NULL address, very long and non-ASCII text: no error, no new label.
SELECT c5metrics.reset();
INSERT INTO shop.public_leads (email, source_ip, message)
VALUES (repeat('x', 5000) || '@example.com', NULL, 'ünïcödé ' || repeat('y', 10000));
SELECT * FROM nz;

-- A throttled lead trapped by a PL/pgSQL handler: rejected, not failure.
SELECT c5metrics.reset();
SET c5metrics.lead_throttle = on;
SET c5metrics.lead_global_per_minute = 0.01;
DO $$
BEGIN
  INSERT INTO shop.public_leads (email, source_ip) VALUES ('f1@example.com', '198.51.100.50');
EXCEPTION WHEN sqlstate '53M01' THEN
  RAISE NOTICE 'throttled: %', SQLERRM;
END
$$;
SELECT * FROM nz;
RESET c5metrics.lead_throttle;
RESET c5metrics.lead_global_per_minute;
