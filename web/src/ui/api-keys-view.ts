/**
 * The API keys dialog (#api-keys): the user's keys with their scopes and last use, a form that makes
 * one, its secret shown once, and a revoke button per key. Names are the user's text: written with
 * textContent only. What the buttons do is the caller's (main.ts wires them to the API).
 */
import type { ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyScope } from '../../../shared/contract.ts';

export interface ApiKeysElements {
  dialog: HTMLDialogElement;
  list: HTMLUListElement;
  empty: HTMLElement;
  form: HTMLFormElement;
  close: HTMLElement;
  created: HTMLElement;
  secret: HTMLOutputElement;
  error: HTMLElement;
}

export interface ApiKeysActions {
  list(): Promise<ApiKey[]>;
  create(req: ApiKeyCreate): Promise<ApiKeyCreated>;
  revoke(id: string): Promise<void>;
}

/** Returns `open()`, which shows the dialog with the keys read afresh. */
export function apiKeysView(el: ApiKeysElements, actions: ApiKeysActions): { open(): Promise<void> } {
  const when = (iso: string | null, none: string) => (iso ? new Date(iso).toLocaleString() : none);

  const render = (keys: ApiKey[]) => {
    el.list.replaceChildren(
      ...keys.map((k) => {
        const li = document.createElement('li');
        li.dataset.keyId = k.id;
        const text = document.createElement('div');
        const name = document.createElement('strong');
        name.textContent = k.name;
        const meta = document.createElement('div');
        meta.className = 'meta';
        meta.textContent = `${k.prefix}… · ${k.scopes.join(', ')} · last used ${when(k.last_used_at, 'never')} · expires ${when(k.expires_at, 'never')}`;
        text.append(name, meta);
        const revoke = document.createElement('button');
        revoke.type = 'button';
        revoke.className = 'button danger';
        revoke.textContent = 'Revoke';
        revoke.onclick = () => void run(async () => actions.revoke(k.id));
        li.append(text, revoke);
        return li;
      }),
    );
    el.empty.hidden = keys.length > 0;
  };

  /** Does `change`, then shows the keys as the server has them; a refusal is shown, not thrown. */
  const run = async (change?: () => Promise<unknown>) => {
    try {
      await change?.();
      render(await actions.list());
      el.error.textContent = '';
    } catch (err) {
      el.error.textContent = (err as Error).message;
    }
  };

  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(el.form);
    const expires = String(data.get('expires') ?? '');
    const req: ApiKeyCreate = {
      name: String(data.get('name') ?? ''),
      scopes: data.getAll('scope').map(String) as ApiKeyScope[],
      // The end of the chosen day, in the user's time zone.
      expires_at: expires ? new Date(`${expires}T23:59:59`).toISOString() : null,
    };
    void run(async () => {
      const made = await actions.create(req);
      el.secret.value = made.secret;
      el.created.hidden = false;
      el.form.reset();
    });
  });
  // The secret is shown once: gone from the page when the dialog closes (the button, or Escape:
  // the dialog's close event comes a moment later).
  const forgetSecret = () => {
    el.secret.value = '';
    el.created.hidden = true;
  };
  el.close.addEventListener('click', () => {
    forgetSecret();
    el.dialog.close();
  });
  el.dialog.addEventListener('close', forgetSecret);

  return {
    async open() {
      el.error.textContent = '';
      el.dialog.showModal();
      await run();
    },
  };
}
