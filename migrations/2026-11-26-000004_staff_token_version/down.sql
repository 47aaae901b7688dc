ALTER TABLE admin_users DROP COLUMN token_version;
