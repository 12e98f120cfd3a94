// The library under test: the build in dist/ (`npm run build`), or RIVVEN_RX_DIST (a path to
// another build's index.js, for comparing builds without touching dist/).
import { pathToFileURL } from 'node:url';

const target = process.env.RIVVEN_RX_DIST ? pathToFileURL(process.env.RIVVEN_RX_DIST).href : '../../dist/index.js';
export const rivven = await import(target);
