ALTER TABLE `boot_latest` ADD `known` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX `boot_latest_known_time` ON `boot_latest` (`known`,`time_ms`);--> statement-breakpoint
-- Hand-written: entries already there count as known when their name is an SMD component now.
UPDATE `boot_latest` SET `known` = 1 WHERE `name` IN (SELECT `id` FROM `components`);
