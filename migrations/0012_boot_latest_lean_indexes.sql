DROP INDEX `boot_latest_name`;--> statement-breakpoint
DROP INDEX `boot_latest_known_time`;--> statement-breakpoint
CREATE INDEX `boot_latest_unknown_time` ON `boot_latest` (`time_ms`) WHERE "boot_latest"."known" = 0;