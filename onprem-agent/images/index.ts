export { imagesConfigSchema, type ImagesConfig, DEFAULT_CLASSIFY } from "./config";
export { startImageServer, type ImageServer, type ImageServerOptions } from "./server";
export { classifier, type ClassifyRule } from "./classify";
