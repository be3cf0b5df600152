// A destructive button that asks first: the first click arms it ("Delete <what>? Click
// again"), a second click within a few seconds runs the action, and it disarms by itself
// (or when focus leaves it). No modal: the question sits where the operator's pointer is,
// and a stray click, or a panel that moved on to another record, deletes nothing.

/** How long an armed button waits for the second click. */
export const ARMED_MS = 5000;

/**
 * Wires `button` to ask before `run()`. `question()` is the armed text (read at the first
 * click, so it names what is shown then). The button's own label comes back when it
 * disarms, and while `run()` is in flight the button is disabled (no double delete).
 */
export function confirmFirst(button, question, run) {
  const label = button.textContent;
  let timer = null;
  const disarm = () => {
    clearTimeout(timer);
    timer = null;
    delete button.dataset.armed;
    button.textContent = label;
  };
  button.addEventListener("click", async () => {
    if (button.dataset.armed !== "true") {
      button.dataset.armed = "true";
      button.textContent = question();
      timer = setTimeout(disarm, ARMED_MS);
      return;
    }
    disarm();
    button.disabled = true;
    try {
      await run();
    } finally {
      button.disabled = false;
    }
  });
  button.addEventListener("blur", disarm);
  return disarm;
}
