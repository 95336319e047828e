// moleculer-io 2.2 ships typings its package.json does not point to; the mixin is used as a plain schema.
declare module "moleculer-io" {
	import type { ServiceSchema } from "moleculer";
	const SocketIOService: ServiceSchema;
	export = SocketIOService;
}
