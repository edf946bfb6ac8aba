CREATE TABLE `discovery_status` (
	`id` integer PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`last_update` text NOT NULL,
	`details` text
);
--> statement-breakpoint
CREATE TABLE `power_maps` (
	`id` text PRIMARY KEY NOT NULL,
	`powered_by` text NOT NULL
);
--> statement-breakpoint
-- Upstream's one discovery record, before any discovery was asked for.
INSERT INTO `discovery_status` (`id`, `status`, `last_update`, `details`) VALUES (0, 'NotStarted', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), '{}');
