export { tftpConfigSchema, type TftpConfig, CONFIG_IPXE, REBOOT_IPXE } from "./config";
export { startTftpServer, type TftpServer, type TftpServerOptions, type DynamicFile, type FileRequest } from "./server";
