CREATE TABLE `auth_clients` (
	`client_id` text PRIMARY KEY NOT NULL,
	`name` text DEFAULT '' NOT NULL,
	`scope` text NOT NULL,
	`secret_hash` text NOT NULL,
	`origin` text DEFAULT 'api' NOT NULL,
	`created_by` text DEFAULT '' NOT NULL,
	`created_at` text NOT NULL,
	`revoked_at` text
);
