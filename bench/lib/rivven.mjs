// The library under test: the build in dist/ (`npm run build`), or RIVVEN_RX_DIST (a path to
// another build's index.js, for comparing builds without touching dist/).
import { pathToFileURL } from 'node:url';

const target = process.env.RIVVEN_RX_DIST ? pathToFileURL(process.env.RIVVEN_RX_DIST).href : new URL('../../dist/index.js', import.meta.url).href;
// The codec workload uses the wire codecs, which are the subpath `rivven-rx/protocol`.
let protocol = {};
try {
  protocol = await import(new URL('./protocol/index.js', target).href);
} catch {
  // A build from before the subpath existed exports the codecs from its root.
}
export const rivven = { ...(await import(target)), ...protocol };
