/** Where photos come in: the file picker, the camera's capture input, drag and drop, and paste. */
export function inputView(
  el: { drop: HTMLElement; inputs: HTMLInputElement[] },
  submit: (files: File[]) => void,
): void {
  for (const input of el.inputs) {
    input.addEventListener('change', () => {
      const files = [...(input.files ?? [])];
      // Cleared so that choosing the same photo again fires `change` again.
      input.value = '';
      submit(files);
    });
  }
  el.drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    el.drop.classList.add('over');
  });
  el.drop.addEventListener('dragleave', () => el.drop.classList.remove('over'));
  el.drop.addEventListener('drop', (e) => {
    e.preventDefault();
    el.drop.classList.remove('over');
    if (e.dataTransfer?.files) submit([...e.dataTransfer.files]);
  });
  window.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files ?? [])];
    if (files.length) submit(files);
  });
}
