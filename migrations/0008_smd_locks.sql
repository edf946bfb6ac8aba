CREATE TABLE `lock_version` (
	`id` integer PRIMARY KEY NOT NULL,
	`version` integer DEFAULT 0 NOT NULL,
	CONSTRAINT "lock_version_one_row" CHECK(id = 1)
);
--> statement-breakpoint
CREATE TABLE `reservations` (
	`component_id` text PRIMARY KEY NOT NULL,
	`created_ms` integer NOT NULL,
	`expires_ms` integer,
	`deputy_key` text NOT NULL,
	`reservation_key` text NOT NULL,
	FOREIGN KEY (`component_id`) REFERENCES `components`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `reservations_deputy_key` ON `reservations` (`deputy_key`);--> statement-breakpoint
CREATE UNIQUE INDEX `reservations_reservation_key` ON `reservations` (`reservation_key`);--> statement-breakpoint
-- The lock API's version counter starts at 0.
INSERT INTO `lock_version` (`id`, `version`) VALUES (1, 0);
