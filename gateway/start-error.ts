import { StartError } from '../common/start-error';

/** Why the gateway itself refused to start (its options, authentication, the listening socket). */
export class GatewayStartError extends StartError {}
