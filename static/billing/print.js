document.getElementById("print-invoice")?.addEventListener("click", () => window.print());
