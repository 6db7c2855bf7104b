// xlfactor: every custom-function call carries the user's credentials in the Authorization header.
// With xlwings Server's Entra ID provider: the Entra access token (single sign-on), as xlwings' own auth.js.
// Otherwise (xlfactor serve): "Bearer <team token>", checked by the project's auth/custom provider;
// the token is kept in this add-in's browser storage by the task pane form (xlfactor-token.js).
globalThis.getAuth = async function () {
  if (config.authProviders.includes("entraid")) {
    const token = await xlwings.getAccessToken();
    return {
      token: token,
      provider: "entraid",
    };
  }
  let token = "";
  try {
    token = globalThis.localStorage.getItem("xlfactor-token") || "";
  } catch (e) {
    token = "";
  }
  return {
    token: token ? "Bearer " + token : "",
    provider: "custom",
  };
};
