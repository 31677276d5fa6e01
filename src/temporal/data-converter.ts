import type { DataConverter } from '@temporalio/common';
import { keyringFromSetting, type Keyring } from '../activities/crypto/sealing';
import { SETTINGS, type Settings } from '../config';
import { AesGcmPayloadCodec, type CodecPolicy } from './codec';

/** The payload codec's keys: CODEC_KEYS (a ConfigError naming it when empty). */
export function codecKeyring(config: Pick<Settings, 'codecKeys'>): Keyring {
  return keyringFromSetting(config.codecKeys, 'CODEC_KEYS');
}

/** How long the worker and clients still decode unbound (v1) payloads: CODEC_ACCEPT_UNBOUND_V1_UNTIL. */
export function codecPolicy(config: Pick<Settings, 'codecAcceptUnboundV1Until'>): Pick<CodecPolicy, 'acceptV1Until'> {
  return { acceptV1Until: config.codecAcceptUnboundV1Until };
}

/** The setting's default, for harnesses that build a data converter without a configuration. */
export const DEFAULT_ACCEPT_V1_UNTIL = Date.parse(SETTINGS.codecAcceptUnboundV1Until.default!);

/**
 * The data converter every client and worker of the provider uses: payloads encrypted and bound
 * to their workflow, what was not encrypted refused (see codec.ts), failure attributes encoded.
 * The converters are given by path because workers load them inside the workflow sandbox;
 * clients load the same modules.
 */
export function providerDataConverter(codecKeyring: Keyring, policy: Pick<CodecPolicy, 'acceptV1Until'> = { acceptV1Until: DEFAULT_ACCEPT_V1_UNTIL }): DataConverter {
  return {
    payloadCodecs: [new AesGcmPayloadCodec(codecKeyring, { unencrypted: 'refuse', acceptV1Until: policy.acceptV1Until })],
    payloadConverterPath: PAYLOAD_CONVERTER_PATH,
    failureConverterPath: FAILURE_CONVERTER_PATH,
  };
}

export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');
export const PAYLOAD_CONVERTER_PATH = require.resolve('./payload-converter');
/** The workflow interceptors every bundle of the provider's workflows carries (worker, replay, tests). */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../workflows/refuse-unencrypted')];
