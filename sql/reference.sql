-- The reference schema's own rules: FEFO order, stock never negative.
SELECT l.id, l.expires_on - current_date AS days_left, l.quantity_on_hand
  FROM shop.stock_lots l WHERE product_id = 1 ORDER BY l.expires_on, l.id;
\set VERBOSITY terse
UPDATE shop.stock_lots SET quantity_on_hand = -1 WHERE id = 1;
\set VERBOSITY default

-- The whole catalog after all tests: each family's type, as Prometheus sees it.
SELECT metric, type FROM c5metrics.metrics
 WHERE type <> 'histogram' AND metric NOT LIKE 'c5metrics%'
 GROUP BY metric, type ORDER BY metric COLLATE "C";
