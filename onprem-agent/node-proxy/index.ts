export { nodeProxyConfigSchema, type NodeProxyConfig } from "./config";
export { startNodeProxy, type NodeProxy, type NodeProxyOptions } from "./server";
