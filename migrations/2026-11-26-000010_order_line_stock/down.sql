ALTER TABLE order_lines DROP COLUMN stock_taken;
