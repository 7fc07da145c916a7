// The shipped `index.d.ts` in a Node-only TypeScript project: no DOM lib, the
// fetch types from @types/node. Checked by `types.test.mjs`; nothing here runs.
import { TokenClient, authorizedFetch, getAccessToken } from '../pkg/index.js';

async function nodeUsage(): Promise<void> {
  const client = new TokenClient({ endpoint: 'https://broker.example.com/api/token', headers: new Headers({ 'X-A': '1' }) });
  const token: string = await client.getAccessToken();
  const response: Response = await authorizedFetch(new URL('https://api.example.com/v1'), { method: 'GET' });
  const fromRequest: Response = await client.authorizedFetch(new Request('https://api.example.com/v2'));
  console.log(token, response.status, fromRequest.ok, await getAccessToken());
}
void nodeUsage;
