import { useEffect } from "react";
import { api } from "./api/client";
import { useI18n } from "./i18n";
import { BatchesPage } from "./pages/Batches";
import { BatchPage } from "./pages/Batch";
import { CardPage } from "./pages/Card";
import { SearchPage } from "./pages/Search";
import { SignInPage } from "./pages/SignIn";
import { UploadPage } from "./pages/Upload";
import { Link, useRoute } from "./router";
import { useSession } from "./session";

export function App() {
  const { t, toggle, lang } = useI18n();
  const { session, refresh, may } = useSession();
  const route = useRoute();

  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = t("appName");
  }, [lang, t]);

  if (session === null) return <main className="muted">{t("loading")}</main>;
  if (session.state !== "authenticated") return <SignInPage />;

  const signOut = async () => {
    await api.POST("/api/session/logout");
    await refresh();
  };
  const tab = (page: string, to: string, label: string) => (
    <Link to={to} className={route.page === page ? "active" : ""}>
      {label}
    </Link>
  );
  return (
    <>
      <header className="top">
        <Link to="/" className="brand">
          {t("appName")}
        </Link>
        <nav>
          {tab("batches", "/", t("batches"))}
          {may("editor") && tab("upload", "/upload", t("upload"))}
          {tab("search", "/search", t("search"))}
        </nav>
        <span className="spacer" />
        <span className="who" data-testid="who">
          {session.email ?? ""} · {session.role}
        </span>
        <button onClick={toggle} data-testid="lang">
          {t("language")}
        </button>
        {session.email && <button onClick={signOut}>{t("signOut")}</button>}
      </header>
      <main>
        {route.page === "batches" && <BatchesPage />}
        {route.page === "upload" && <UploadPage />}
        {route.page === "batch" && <BatchPage id={route.id} />}
        {route.page === "card" && <CardPage key={route.id} id={route.id} line={route.line} />}
        {route.page === "search" && <SearchPage q={route.q} />}
      </main>
    </>
  );
}
