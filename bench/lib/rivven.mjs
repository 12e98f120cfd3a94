// The library under test: the build in dist/ (`npm run build`), or RIVVEN_RX_DIST (a path to
// another build's index.js, for comparing builds without touching dist/).
import { pathToFileURL } from 'node:url';

const target = process.env.RIVVEN_RX_DIST ? pathToFileURL(process.env.RIVVEN_RX_DIST).href : new URL('../../dist/index.js', import.meta.url).href;
// The codec workload uses the wire codecs, which are the subpath `rivven-rx/protocol`.
const protocol = new URL('./protocol/index.js', target).href;
export const rivven = { ...(await import(target)), ...(await import(protocol)) };
