/**
 * The session's API key: asked for once (the `#key-dialog` of every page), kept in
 * `sessionStorage` (this tab only, gone when it closes) and asked for again when the service
 * refuses it.
 */
import type { KeySource } from "./api.ts";

const STORAGE_KEY = "hybrid-image-search.api-key";

const REASONS = {
  start: "This service needs an API key for searches, uploads and generation. Ask its operator for one.",
  needed: "That needs an API key. Enter one to go on.",
  refused: "The service did not accept that key (401). Check it and enter it again.",
} as const;

/**
 * A key source over `sessionStorage` and the page's key dialog.
 *
 * @example
 * const keys = createKeySource(document, sessionStorage);
 * if (config.authRequired && !keys.key()) await keys.ask("start");
 */
export function createKeySource(doc: Document, storage: Storage): KeySource & { ask(reason: keyof typeof REASONS): Promise<boolean>; forget(): void } {
  const dialog = doc.getElementById("key-dialog") as HTMLDialogElement | null;
  const input = doc.getElementById("key-input") as HTMLInputElement | null;
  const reason = doc.getElementById("key-reason");
  const status = doc.getElementById("key-status");
  let asking: Promise<boolean> | undefined;

  const read = () => storage.getItem(STORAGE_KEY) ?? undefined;
  const showStatus = () => {
    if (status) status.textContent = read() ? "API key set for this session" : "No API key";
  };
  showStatus();

  function ask(why: keyof typeof REASONS): Promise<boolean> {
    if (!dialog || !input) return Promise.resolve(false);
    asking ??= new Promise<boolean>((resolve) => {
      if (reason) reason.textContent = REASONS[why];
      input.value = "";
      dialog.returnValue = "";
      dialog.addEventListener(
        "close",
        () => {
          asking = undefined;
          const key = input.value.trim();
          if (dialog.returnValue === "save" && key) storage.setItem(STORAGE_KEY, key);
          showStatus();
          resolve(dialog.returnValue === "save" && key !== "");
        },
        { once: true },
      );
      dialog.showModal();
      input.focus();
    });
    return asking;
  }

  return {
    key: read,
    ask,
    forget() {
      storage.removeItem(STORAGE_KEY);
      showStatus();
    },
  };
}
