-- How many units each order line took from stock (0 when the variant's stock was not tracked at
-- checkout): a cancel gives back exactly that, whatever the variant's settings are by then.
ALTER TABLE order_lines ADD COLUMN stock_taken INTEGER NOT NULL DEFAULT 0 CHECK (stock_taken >= 0);
