CREATE TABLE `component_endpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`domain` text DEFAULT '' NOT NULL,
	`fqdn` text DEFAULT '' NOT NULL,
	`redfish_type` text DEFAULT '' NOT NULL,
	`redfish_subtype` text DEFAULT '' NOT NULL,
	`mac_addr` text DEFAULT '' NOT NULL,
	`uuid` text DEFAULT '' NOT NULL,
	`odata_id` text DEFAULT '' NOT NULL,
	`redfish_endpoint_id` text NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`component_endpoint_type` text NOT NULL,
	`info` text DEFAULT '{}' NOT NULL,
	FOREIGN KEY (`redfish_endpoint_id`) REFERENCES `redfish_endpoints`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `component_endpoints_rfe` ON `component_endpoints` (`redfish_endpoint_id`);--> statement-breakpoint
CREATE TABLE `components` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`state` text DEFAULT '' NOT NULL,
	`flag` text DEFAULT '' NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`software_status` text DEFAULT '' NOT NULL,
	`role` text DEFAULT '' NOT NULL,
	`sub_role` text DEFAULT '' NOT NULL,
	`nid` integer DEFAULT -1 NOT NULL,
	`subtype` text DEFAULT '' NOT NULL,
	`net_type` text DEFAULT '' NOT NULL,
	`arch` text DEFAULT '' NOT NULL,
	`class` text DEFAULT '' NOT NULL,
	`reservation_disabled` integer DEFAULT false NOT NULL,
	`locked` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE INDEX `components_nid` ON `components` (`nid`);--> statement-breakpoint
CREATE INDEX `components_type` ON `components` (`type`);--> statement-breakpoint
CREATE TABLE `ethernet_interface_ips` (
	`interface_id` text NOT NULL,
	`ip_address` text NOT NULL,
	`network` text DEFAULT '' NOT NULL,
	`position` integer NOT NULL,
	PRIMARY KEY(`interface_id`, `ip_address`),
	FOREIGN KEY (`interface_id`) REFERENCES `ethernet_interfaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `ethernet_interface_ips_ip` ON `ethernet_interface_ips` (`ip_address`);--> statement-breakpoint
CREATE TABLE `ethernet_interfaces` (
	`id` text PRIMARY KEY NOT NULL,
	`mac_address` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`component_id` text DEFAULT '' NOT NULL,
	`type` text DEFAULT '' NOT NULL,
	`last_update` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ethernet_interfaces_component` ON `ethernet_interfaces` (`component_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `ethernet_interfaces_mac` ON `ethernet_interfaces` (`mac_address`);--> statement-breakpoint
CREATE TABLE `group_members` (
	`group_label` text NOT NULL,
	`component_id` text NOT NULL,
	PRIMARY KEY(`group_label`, `component_id`),
	FOREIGN KEY (`group_label`) REFERENCES `groups`(`label`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`component_id`) REFERENCES `components`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `group_members_component` ON `group_members` (`component_id`);--> statement-breakpoint
CREATE TABLE `groups` (
	`label` text PRIMARY KEY NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`exclusive_group` text DEFAULT '' NOT NULL,
	`tags` text DEFAULT '[]' NOT NULL
);
--> statement-breakpoint
CREATE TABLE `node_maps` (
	`id` text PRIMARY KEY NOT NULL,
	`nid` integer NOT NULL,
	`role` text DEFAULT '' NOT NULL,
	`sub_role` text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE TABLE `partition_members` (
	`partition_name` text NOT NULL,
	`component_id` text PRIMARY KEY NOT NULL,
	FOREIGN KEY (`partition_name`) REFERENCES `partitions`(`name`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`component_id`) REFERENCES `components`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `partition_members_partition` ON `partition_members` (`partition_name`);--> statement-breakpoint
CREATE TABLE `partitions` (
	`name` text PRIMARY KEY NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`tags` text DEFAULT '[]' NOT NULL
);
--> statement-breakpoint
CREATE TABLE `redfish_endpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`name` text DEFAULT '' NOT NULL,
	`hostname` text DEFAULT '' NOT NULL,
	`domain` text DEFAULT '' NOT NULL,
	`fqdn` text NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`uuid` text DEFAULT '' NOT NULL,
	`user` text DEFAULT '' NOT NULL,
	`password` text DEFAULT '' NOT NULL,
	`use_ssdp` integer DEFAULT false NOT NULL,
	`mac_required` integer DEFAULT false NOT NULL,
	`mac_addr` text DEFAULT '' NOT NULL,
	`ip_address` text DEFAULT '' NOT NULL,
	`rediscover_on_update` integer DEFAULT false NOT NULL,
	`template_id` text DEFAULT '' NOT NULL,
	`discovery_info` text DEFAULT '{"LastDiscoveryStatus":"NotYetQueried"}' NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `redfish_endpoints_fqdn` ON `redfish_endpoints` (`fqdn`);