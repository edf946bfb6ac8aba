export { CONFIG_IPXE, REBOOT_IPXE, type TftpConfig, tftpConfigSchema } from "./config";
export { type DynamicFile, type FileRequest, startTftpServer, type TftpServer, type TftpServerOptions } from "./server";
