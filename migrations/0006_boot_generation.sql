CREATE TABLE `boot_generation` (
	`id` integer PRIMARY KEY NOT NULL,
	`generation` integer DEFAULT 0 NOT NULL,
	`database_id` text NOT NULL,
	CONSTRAINT "boot_generation_one_row" CHECK(id = 1)
);

--> statement-breakpoint
-- Hand-written below (drizzle-kit does not model triggers): the seed row, and one trigger per write
-- kind on every table the boot path reads (workers/boot-snapshot/load.ts). UPDATE triggers on
-- components and ethernet_interfaces fire only for the columns the boot path reads, so state
-- changes (State, Flag, LastUpdate) during a boot storm do not invalidate the snapshot.
INSERT INTO `boot_generation` (`id`, `generation`, `database_id`) VALUES (1, 0, lower(hex(randomblob(8))));
--> statement-breakpoint
CREATE TRIGGER `boot_generation_components_insert` AFTER INSERT ON `components` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_components_update` AFTER UPDATE OF id, type, enabled, role, nid ON `components` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_components_delete` AFTER DELETE ON `components` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_ethernet_interfaces_insert` AFTER INSERT ON `ethernet_interfaces` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_ethernet_interfaces_update` AFTER UPDATE OF id, mac_address, component_id ON `ethernet_interfaces` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_ethernet_interfaces_delete` AFTER DELETE ON `ethernet_interfaces` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_ethernet_interface_ips_insert` AFTER INSERT ON `ethernet_interface_ips` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_ethernet_interface_ips_update` AFTER UPDATE ON `ethernet_interface_ips` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_ethernet_interface_ips_delete` AFTER DELETE ON `ethernet_interface_ips` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_group_members_insert` AFTER INSERT ON `group_members` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_group_members_update` AFTER UPDATE ON `group_members` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_group_members_delete` AFTER DELETE ON `group_members` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_boot_configs_insert` AFTER INSERT ON `boot_configs` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_boot_configs_update` AFTER UPDATE ON `boot_configs` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_boot_configs_delete` AFTER DELETE ON `boot_configs` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_boot_assignments_insert` AFTER INSERT ON `boot_assignments` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_boot_assignments_update` AFTER UPDATE ON `boot_assignments` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_boot_assignments_delete` AFTER DELETE ON `boot_assignments` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_cloud_init_groups_insert` AFTER INSERT ON `cloud_init_groups` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_cloud_init_groups_update` AFTER UPDATE ON `cloud_init_groups` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_cloud_init_groups_delete` AFTER DELETE ON `cloud_init_groups` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_cloud_init_instances_insert` AFTER INSERT ON `cloud_init_instances` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_cloud_init_instances_update` AFTER UPDATE ON `cloud_init_instances` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_cloud_init_instances_delete` AFTER DELETE ON `cloud_init_instances` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_cloud_init_cluster_defaults_insert` AFTER INSERT ON `cloud_init_cluster_defaults` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_cloud_init_cluster_defaults_update` AFTER UPDATE ON `cloud_init_cluster_defaults` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `boot_generation_cloud_init_cluster_defaults_delete` AFTER DELETE ON `cloud_init_cluster_defaults` BEGIN UPDATE `boot_generation` SET `generation` = `generation` + 1 WHERE `id` = 1; END;
