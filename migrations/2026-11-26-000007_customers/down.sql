DROP TABLE customer_tokens; DROP TABLE customer_addresses; DROP TABLE customers;
