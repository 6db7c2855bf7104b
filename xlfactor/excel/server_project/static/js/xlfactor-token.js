// xlfactor task pane: save (or clear) the team token that auth.js sends with every call.
document.addEventListener("DOMContentLoaded", () => {
  const input = document.getElementById("xlfactor-token");
  const status = document.getElementById("xlfactor-token-status");
  const show = () => {
    const saved = globalThis.localStorage.getItem("xlfactor-token");
    status.textContent = saved ? "A token is saved for this add-in." : "No token saved: OF. functions answer 401.";
  };
  document.getElementById("xlfactor-token-save").addEventListener("click", () => {
    const token = input.value.trim();
    if (token) {
      globalThis.localStorage.setItem("xlfactor-token", token);
    } else {
      globalThis.localStorage.removeItem("xlfactor-token");
    }
    input.value = "";
    show();
  });
  show();
});
