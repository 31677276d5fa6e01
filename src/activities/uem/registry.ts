/**
 * UEM's user directory, by whether UEM_API_URL is set (settings checked by
 * src/config/requirements.ts):
 *
 *   uem-rest  the UEM REST System API (v2 by UUID, v1 by numeric id); its twin is src/peers/uem-sim
 *   none      no directory: only what the events carry is known
 */
import { defineRegistry } from '../adapters';
import { createUemRestDirectory } from './uem-rest-directory';
import type { UserDirectory } from './user-directory';

export const directoryRegistry = defineRegistry<UserDirectory | undefined>({
  system: 'user directory',
  setting: 'uemApiUrl',
  typeOf: (config) => (config.uemApiUrl ? 'uem-rest' : 'none'),
  adapters: {
    'uem-rest': ({ config, logger }) => createUemRestDirectory(config, logger),
    none: () => undefined,
  },
});
