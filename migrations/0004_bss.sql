CREATE TABLE `boot_assignments` (
	`kind` text NOT NULL,
	`key` text NOT NULL,
	`config_id` integer NOT NULL,
	PRIMARY KEY(`kind`, `key`),
	FOREIGN KEY (`config_id`) REFERENCES `boot_configs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `boot_assignments_config` ON `boot_assignments` (`config_id`);--> statement-breakpoint
CREATE TABLE `boot_configs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kernel` text NOT NULL,
	`initrd` text DEFAULT '' NOT NULL,
	`params` text DEFAULT '' NOT NULL,
	`cloud_init` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `boot_configs_content` ON `boot_configs` (`kernel`,`initrd`,`params`,`cloud_init`);