export { type NodeProxyConfig, nodeProxyConfigSchema } from "./config";
export { type NodeProxy, type NodeProxyOptions, startNodeProxy } from "./server";
