CREATE TABLE `cloud_init_cluster_defaults` (
	`id` integer PRIMARY KEY NOT NULL,
	`cloud_provider` text DEFAULT '' NOT NULL,
	`region` text DEFAULT '' NOT NULL,
	`availability_zone` text DEFAULT '' NOT NULL,
	`cluster_name` text DEFAULT '' NOT NULL,
	`public_keys` text DEFAULT '[]' NOT NULL,
	`base_url` text DEFAULT '' NOT NULL,
	`boot_subnet` text DEFAULT '' NOT NULL,
	`wg_subnet` text DEFAULT '' NOT NULL,
	`short_name` text DEFAULT '' NOT NULL,
	`nid_length` integer DEFAULT 0 NOT NULL,
	CONSTRAINT "cloud_init_cluster_defaults_one_row" CHECK(id = 1)
);
--> statement-breakpoint
CREATE TABLE `cloud_init_groups` (
	`name` text PRIMARY KEY NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`meta_data` text,
	`file_content` text DEFAULT '' NOT NULL,
	`file_name` text DEFAULT '' NOT NULL,
	`file_encoding` text DEFAULT '' NOT NULL,
	`versions` text
);
--> statement-breakpoint
CREATE TABLE `cloud_init_instances` (
	`id` text PRIMARY KEY NOT NULL,
	`instance_id` text DEFAULT '' NOT NULL,
	`local_hostname` text DEFAULT '' NOT NULL,
	`hostname` text DEFAULT '' NOT NULL,
	`cluster_name` text DEFAULT '' NOT NULL,
	`region` text DEFAULT '' NOT NULL,
	`availability_zone` text DEFAULT '' NOT NULL,
	`cloud_provider` text DEFAULT '' NOT NULL,
	`instance_type` text DEFAULT '' NOT NULL,
	`cloud_init_base_url` text DEFAULT '' NOT NULL,
	`public_keys` text DEFAULT '[]' NOT NULL
);
