// retailflow cockpit: the little the pages do in the browser. No framework, nothing fetched.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Pointing at (or clicking) a diagram element writes its tooltip into the panel under the
  // diagram, where it stays readable and can be copied.
  const panel = document.getElementById("inspect");
  document.querySelectorAll("svg.diagram [data-element-id]").forEach((element) => {
    const show = () => {
      const title = element.querySelector(":scope > title");
      if (panel && title) panel.textContent = title.textContent;
    };
    element.addEventListener("mouseenter", show);
    element.addEventListener("click", () => {
      show();
      document.querySelectorAll("svg.diagram .selected").forEach((e) => e.classList.remove("selected"));
      element.classList.add("selected");
    });
  });
  // An action that cannot be undone asks first.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
