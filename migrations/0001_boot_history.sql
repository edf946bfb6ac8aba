CREATE TABLE `boot_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`mac` text DEFAULT '' NOT NULL,
	`ip` text DEFAULT '' NOT NULL,
	`endpoint` text NOT NULL,
	`time_ms` integer NOT NULL,
	`detail` text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `boot_events_name_time` ON `boot_events` (`name`,`time_ms`);--> statement-breakpoint
CREATE INDEX `boot_events_time` ON `boot_events` (`time_ms`);--> statement-breakpoint
CREATE TABLE `boot_latest` (
	`subject` text NOT NULL,
	`endpoint` text NOT NULL,
	`name` text NOT NULL,
	`mac` text DEFAULT '' NOT NULL,
	`ip` text DEFAULT '' NOT NULL,
	`time_ms` integer NOT NULL,
	`detail` text DEFAULT '' NOT NULL,
	PRIMARY KEY(`subject`, `endpoint`)
);
--> statement-breakpoint
CREATE INDEX `boot_latest_name` ON `boot_latest` (`name`);