/** Sabre's own version, and the Redis version it is compatible with (reported as redis_version, as clients gate features on it). */
export { SABRE_VERSION } from './config';
export const REDIS_COMPAT_VERSION = '7.0.15';
