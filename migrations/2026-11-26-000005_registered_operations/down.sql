DROP TABLE registered_operations;
