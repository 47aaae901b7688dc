-- A staff token names the account's token version; deactivating the account, or changing its
-- role or password, bumps the version and so ends every token issued before.
ALTER TABLE admin_users ADD COLUMN token_version BIGINT NOT NULL DEFAULT 1;
