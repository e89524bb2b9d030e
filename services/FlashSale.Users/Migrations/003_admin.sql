-- The admin is whoever the deployment names in Users:Admin (AdminBootstrap sets this flag), never a registered name.
ALTER TABLE users.users ADD COLUMN is_admin boolean NOT NULL DEFAULT false;
