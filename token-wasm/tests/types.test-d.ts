// Type-level usage of the shipped declarations (`token-wasm/pkg/index.d.ts`),
// checked by `types.test.mjs` with `tsc --noEmit --strict`. Nothing here runs.
// Every `@ts-expect-error` line MUST fail to compile: if the declarations grew
// too loose to reject it, tsc reports the unused directive and the test fails.
import {
  TokenClient,
  TokenError,
  authorizedFetch,
  clear,
  configure,
  configureSession,
  getAccessToken,
  getDefaultClient,
  getState,
  getUser,
  getUserClient,
  isAuthenticated,
  login,
  loginUrl,
  logout,
  onError,
  onSessionChange,
  onTokenChange,
} from '../pkg/index.js';
import type { OnTokenReady, SessionChange, TokenClientOptions, TokenErrorCode, TokenState, User } from '../pkg/index.js';

// The Autodesk Viewer's option: `getAccessToken(onReady)` where onReady gets a
// token and its lifetime in seconds.
type ViewerGetAccessToken = (onReady: (token: string, expiresInSeconds: number) => void) => void;
const viewerOption: ViewerGetAccessToken = getAccessToken;
const viewerFromClient: ViewerGetAccessToken = (cb) => getDefaultClient().getAccessToken(cb);
const onReady: OnTokenReady = (token: string, seconds: number) => console.log(token.length, seconds.toFixed(0));

async function usage(): Promise<void> {
  const token: string = await getAccessToken();
  const done: void = await getAccessToken(onReady);

  const options: TokenClientOptions = {
    endpoint: '/api/user/token',
    leewaySeconds: 30,
    credentials: 'same-origin',
    headers: { 'X-Custom': 'yes' },
    timeoutMs: 5000,
    retries: 0,
    retryDelayMs: 100,
    refreshAhead: true,
    shareAcrossTabs: false,
  };
  configure(options);
  const user = new TokenClient(options);
  const res: Response = await user.authorizedFetch('/api/user/me', { method: 'GET' });
  const res2: Response = await authorizedFetch(new URL('https://example.test/api'));

  const state: TokenState = user.getState();
  const status: 'empty' | 'fresh' | 'refreshing' | 'error' = getState().status;
  const expiresAt: number | null = state.expiresAt;
  const lastCode: TokenErrorCode | undefined = state.lastError?.code;

  const offChange: () => void = onTokenChange((t: string | null, s: TokenState) => console.log(t, s.fetches));
  const offError: () => void = onError((e: TokenError) => console.log(e.code));
  user.onError((e) => {
    const code: TokenErrorCode = e.code;
    const httpStatus: number | null = e.status;
    const serverError: string | null = e.error;
    const description: string | null = e.error_description;
    const name: 'TokenError' = e.name;
    const message: string = e.message;
    const cause: unknown = e.cause;
    console.log(code, httpStatus, serverError, description, name, message, cause);
  });
  offChange();
  offError();
  clear();
  user.clear();

  try {
    await user.getAccessToken();
  } catch (e) {
    if (e instanceof TokenError && e.code === 'login_required') location.href = '/auth/login';
    if (e instanceof TokenError && e.code === 'module_unavailable') console.log(e.message);
    const asError: Error = new TokenError('x', 'http', { status: 503, error: 'upstream_unavailable' });
    console.log(asError);
  }
  console.log(token, done, res, res2, status, expiresAt, lastCode, viewerOption, viewerFromClient);
}

function mustNotCompile(e: TokenError): void {
  // @ts-expect-error: `code` is a closed union of error codes.
  const bad: TokenErrorCode = 'teapot';
  // @ts-expect-error: the viewer callback receives a number of seconds, not a string.
  getAccessToken((token: string, seconds: string) => console.log(token, seconds));
  // @ts-expect-error: unknown options are rejected (typo for `leewaySeconds`).
  new TokenClient({ leeway: 30 });
  // @ts-expect-error: error fields are read-only.
  e.code = 'network';
  // @ts-expect-error: the state snapshot is shared and read-only.
  getState().status = 'fresh';
  // @ts-expect-error: there is one state accessor, getState().
  console.log(getDefaultClient().state);
  // @ts-expect-error: the promise form resolves to a string.
  const n: Promise<number> = getAccessToken();
  console.log(bad, n);
}

void usage;
void mustNotCompile;

// The sign-in surface.
async function session(): Promise<void> {
  configureSession({ routes: { login: '/signin', userToken: '/api/me/token' } });
  login();
  login({ returnTo: '/after' });
  const href: string = loginUrl({ returnTo: '/after' });
  console.log(href);
  const signedIn: boolean = await isAuthenticated();
  const user: User | null = await getUser();
  const name: string | undefined = user?.name;
  const userToken: string = await getUserClient().getAccessToken();
  const stop: () => void = onSessionChange((change: SessionChange) => {
    const who: User | null = change.user;
    console.log(change.authenticated, change.source, who?.sub);
  });
  await logout();
  await logout({ endSession: false });
  // @ts-expect-error: endSession is a boolean
  await logout({ endSession: 'no' });
  stop();
  console.log(signedIn, name, userToken);
  // @ts-expect-error: routes have fixed names
  configureSession({ routes: { signin: '/x' } });
  // @ts-expect-error: returnTo is a string
  login({ returnTo: 42 });
  // @ts-expect-error: user is nullable
  const sub: string = (await getUser()).sub;
  console.log(sub);
}
void session;

// The React and Vue bindings (their own subpaths).
import { useAccessToken as useReactToken, useSession as useReactSession } from '../pkg/react.js';
import { useAccessToken as useVueToken, useSession as useVueSession } from '../pkg/vue.js';

function bindings(): void {
  const { token, isLoading, error, state } = useReactToken(getUserClient());
  const maybe: string | null = token;
  const loading: boolean = isLoading;
  const why: TokenErrorCode | undefined = error?.code;
  const status: TokenState['status'] | undefined = state?.status;
  const session = useReactSession();
  const who: string | undefined = session.user?.name;
  const signedIn: boolean = session.isAuthenticated;
  session.login({ returnTo: '/' });
  const out: Promise<void> = session.logout({ endSession: false });
  const vue = useVueToken();
  const vueToken: string | null = vue.token.value;
  const vueSession = useVueSession();
  const vueUser: string | undefined = vueSession.user.value?.sub;
  // @ts-expect-error: the React snapshot is read-only.
  session.isAuthenticated = true;
  // @ts-expect-error: Vue gives refs, not plain values.
  const notRef: string | null = vue.token;
  console.log(maybe, loading, why, status, who, signedIn, out, vueToken, vueUser, notRef);
}
void bindings;
