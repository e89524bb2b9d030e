using FlashSale.Users.Apis;
using FlashSale.Users.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddUsersServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapUsersApi();

app.Run();

public partial class Program;
