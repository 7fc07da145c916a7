// `token-wasm/vue`: Vue composables over the package's stores (stores.js).
// Vue is an optional peer dependency; the main entry stays framework-free.
import { computed, getCurrentInstance, onBeforeUnmount, onMounted, shallowRef } from 'vue';
import { sessionStore, tokenStore } from './stores.js';

/**
 * The store's snapshot as a ref, subscribed while the component is mounted
 * (never during server-side rendering, where `onMounted` does not run), or
 * from now on when called outside a component.
 */
function useStore(store) {
  const snapshot = shallowRef(store.getSnapshot());
  let unsubscribe = null;
  const start = () => {
    unsubscribe = store.subscribe(() => { snapshot.value = store.getSnapshot(); });
    snapshot.value = store.getSnapshot();
  };
  if (getCurrentInstance()) {
    onMounted(start);
    onBeforeUnmount(() => unsubscribe?.());
  } else {
    start();
  }
  return snapshot;
}

/**
 * A usable access token of `client` (default: the default client), kept
 * renewed while the component is mounted: refs `token`, `isLoading`, `error`
 * and `state`. Components using one client share one request.
 *
 * @example
 * const { token, isLoading, error } = useAccessToken();
 * // <p v-if="error">{{ error.message }}</p><Model v-else-if="!isLoading" :token="token" />
 */
export function useAccessToken(client) {
  const snapshot = useStore(tokenStore(client));
  return {
    token: computed(() => snapshot.value.token),
    isLoading: computed(() => snapshot.value.isLoading),
    error: computed(() => snapshot.value.error),
    state: computed(() => snapshot.value.state),
  };
}

/**
 * The signed-in user, asked of the broker once per page and kept in step with
 * sign-in and sign-out in every tab: refs `user`, `isAuthenticated`,
 * `isLoading`, `error`, and the functions `login` and `logout`.
 *
 * @example
 * const { user, isAuthenticated, login, logout } = useSession();
 * // <button v-if="isAuthenticated" @click="logout()">Sign out {{ user.name }}</button>
 * // <button v-else @click="login()">Sign in</button>
 */
export function useSession() {
  const store = sessionStore();
  const snapshot = useStore(store);
  const { login, logout } = snapshot.value;
  return {
    user: computed(() => snapshot.value.user),
    isAuthenticated: computed(() => snapshot.value.isAuthenticated),
    isLoading: computed(() => snapshot.value.isLoading),
    error: computed(() => snapshot.value.error),
    login,
    logout,
  };
}
