// java -cp DIR HttpGet URL
// java.net.http.HttpClient with connectTimeout(3 s), one GET of URL, as
// Java programs fetch: the client resolves the host with
// InetSocketAddress (InetAddress.getByName: the first address only) and
// connects non-blocking from its selector thread (SocketChannel.connect,
// epoll, finishConnect, which reads SO_ERROR).  Prints "ms=N" (the whole
// send), "status N" and the body; on failure "error <exception>" and
// exit 1.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

public class HttpGet {
    public static void main(String[] args) throws Exception {
        HttpClient client = HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(3))
                .proxy(HttpClient.Builder.NO_PROXY)
                .build();
        HttpRequest req = HttpRequest.newBuilder(URI.create(args[0]))
                .timeout(Duration.ofSeconds(5))
                .build();
        long t = System.nanoTime();
        HttpResponse<String> resp;
        try {
            resp = client.send(req, HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            System.out.println("ms=" + (System.nanoTime() - t) / 1000000);
            System.out.println("error " + e);
            System.exit(1);
            return;
        }
        System.out.println("ms=" + (System.nanoTime() - t) / 1000000);
        System.out.println("status " + resp.statusCode());
        System.out.print(resp.body());
    }
}
