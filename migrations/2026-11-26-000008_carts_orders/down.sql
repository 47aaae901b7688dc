DROP TABLE order_events;
DROP TABLE order_lines;
DROP TABLE orders;
DROP SEQUENCE order_display_numbers;
DROP TABLE payments;
DROP TABLE cart_lines;
DROP TABLE carts;
DROP TABLE shipping_options;
