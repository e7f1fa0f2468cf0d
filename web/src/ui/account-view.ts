/**
 * The account corner (#account) and the login dialog, following `state.user` and
 * `state.loginWanted`. What the buttons do is the caller's (main.ts wires them to the API).
 */
import type { User } from '../../../shared/contract.ts';
import { type AppState, type Store, withNotice } from '../state.ts';

export interface AccountElements {
  account: HTMLElement;
  dialog: HTMLDialogElement;
  form: HTMLFormElement;
  error: HTMLElement;
  cancel: HTMLElement;
}

export interface AccountActions {
  logIn(username: string, password: string): Promise<void>;
  logOut(): Promise<void>;
  /** Turns on notifications; says what happened. */
  notify(): Promise<string>;
  /** Opens the API keys dialog (ui/api-keys-view.ts). */
  apiKeys(): void;
}

export function accountView(el: AccountElements, store: Store, actions: AccountActions): void {
  const button = (label: string, onClick: () => void, title?: string) => {
    const b = document.createElement('button');
    b.className = 'button';
    b.type = 'button';
    b.textContent = label;
    if (title) b.title = title;
    b.onclick = onClick;
    return b;
  };

  const renderUser = (user: User | null) => {
    el.account.replaceChildren();
    if (!user) {
      el.account.append(button('Log in', () => el.dialog.showModal()));
      return;
    }
    el.account.append(`${user.username} `);
    if ('Notification' in window && Notification.permission !== 'denied') {
      el.account.append(
        button(
          'Notify me',
          () => void actions.notify().then((text) => store.update((s) => withNotice(s, text))),
          'Get a notification when a server task finishes, even with this page closed',
        ),
      );
    }
    el.account.append(button('API keys', () => actions.apiKeys(), 'Keys for scripts and the command line'));
    el.account.append(button('Log out', () => void actions.logOut()));
  };

  const render = (s: AppState, prev: AppState | null) => {
    if (!prev || s.user?.id !== prev.user?.id) renderUser(s.user);
    if (s.loginWanted && !el.dialog.open && !prev?.loginWanted) el.dialog.showModal();
  };

  el.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(el.form);
    try {
      await actions.logIn(String(data.get('username')), String(data.get('password')));
      el.error.textContent = '';
      el.dialog.close();
    } catch (err) {
      el.error.textContent = (err as Error).message;
    }
  });
  el.cancel.addEventListener('click', () => el.dialog.close());
  el.dialog.addEventListener('close', () => {
    if (store.get().loginWanted) store.update((s) => ({ ...s, loginWanted: false }));
  });

  render(store.get(), null);
  store.subscribe(render);
}
