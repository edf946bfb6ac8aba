CREATE TABLE `hwinv_frus` (
	`fru_id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`subtype` text DEFAULT '' NOT NULL,
	`info` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `hwinv_history` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`fru_id` text NOT NULL,
	`time_ms` integer NOT NULL,
	`event_type` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `hwinv_history_id` ON `hwinv_history` (`id`);--> statement-breakpoint
CREATE TABLE `hwinv_locations` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`ordinal` integer DEFAULT 0 NOT NULL,
	`status` text DEFAULT 'Populated' NOT NULL,
	`parent_node` text DEFAULT '' NOT NULL,
	`info` text NOT NULL,
	`fru_id` text,
	FOREIGN KEY (`fru_id`) REFERENCES `hwinv_frus`(`fru_id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `hwinv_locations_type` ON `hwinv_locations` (`type`);--> statement-breakpoint
CREATE INDEX `hwinv_locations_fru` ON `hwinv_locations` (`fru_id`);