export { type ClassifyRule, classifier } from "./classify";
export { DEFAULT_CLASSIFY, type ImagesConfig, imagesConfigSchema } from "./config";
export { type ImageServer, type ImageServerOptions, startImageServer } from "./server";
