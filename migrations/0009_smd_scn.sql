CREATE TABLE `scn_subscriptions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`sub_url` text NOT NULL,
	`subscription` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `scn_subscriptions_sub_url_unique` ON `scn_subscriptions` (`sub_url`);