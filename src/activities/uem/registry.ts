/**
 * UEM's directory, by whether UEM_API_URL is set (settings checked by src/config/requirements.ts):
 *
 *   uem-rest  the UEM REST API: the user directory (System API, by UUID) and the device inventory
 *             (MDM API: device search, smart groups, profile install), one adapter implementing
 *             both over the UEM client the direct-upload gateway shares; its twin is src/peers/uem-sim
 *   none      no directory: only what the events carry is known, and no inventory to list
 */
import { defineRegistry } from '../adapters';
import { createUemRestDirectory, type UemDirectory } from './uem-rest-directory';

export type { UemDirectory } from './uem-rest-directory';

export const directoryRegistry = defineRegistry<UemDirectory | undefined>({
  system: 'user directory',
  setting: 'uemApiUrl',
  typeOf: (config) => (config.uemApiUrl ? 'uem-rest' : 'none'),
  adapters: {
    'uem-rest': ({ config, logger }) => createUemRestDirectory(config, logger),
    none: () => undefined,
  },
});
